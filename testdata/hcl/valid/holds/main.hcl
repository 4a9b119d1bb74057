site "hq" {
  time_zone = "Europe/Berlin"

  server "rec-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "rec-2" {
    address = "10.0.0.2"
    storage "main" {
      path = "/rec"
    }
  }

  server "witness" {
    address = "10.0.0.3"
    kind    = "witness"
  }

  camera "dock-1" {
    url    = "rtsp://10.0.1.1/s"
    server = "rec-1"
    backup = ["rec-2"]
  }
  camera "dock-2" {
    url    = "rtsp://10.0.1.2/s"
    server = "rec-2"
    backup = ["rec-1"]
  }
  camera "lobby" {
    url    = "rtsp://10.0.1.3/s"
    server = "rec-1"
    backup = ["rec-2"]
  }

  hold "case-2291" {
    cameras = ["dock-*"]
    from    = "2026-12-01T21:00:00Z"
    to      = "2026-12-01T23:30:00Z"
    until   = "2027-06-01" # midnight in Europe/Berlin
    reason  = "break-in, police ref 4471"
  }

  # No end: kept until the block is removed. Offsets are kept as the
  # instant they name.
  hold "insurance" {
    cameras = ["lobby", "dock-2"]
    from    = "2026-11-30T08:00:00+01:00"
    to      = "2026-12-01" # midnight in Europe/Berlin
  }
}
