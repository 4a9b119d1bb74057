site "hq" {
  server "rec-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  camera "dock-1" {
    url    = "rtsp://10.0.1.1/s"
    server = "rec-1"
  }

  hold "inverted" {
    cameras = ["dock-1"]
    from    = "2026-12-01T23:30:00Z"
    to      = "2026-12-01T21:00:00Z"
  }

  hold "malformed" {
    cameras = ["dock-["]
    from    = "yesterday"
    to      = "2026-12-01 23:30"
    until   = "2027-13-01"
  }

  hold "no-period" {
    cameras = []
  }

  hold "inverted" {
    cameras = ["dock-1"]
    from    = "2026-12-01T21:00:00Z"
    to      = "2026-12-01T23:30:00Z"
  }

  hold "bad name!" {
    cameras = ["dock-1"]
    from    = "2026-12-01T21:00:00Z"
    to      = "2026-12-01T23:30:00Z"
    color   = "red"
  }
}
