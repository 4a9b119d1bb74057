site "hq" {
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

  # dock-2 was removed from the site after the break-in; its footage is still
  # on the disks, and the hold keeps it. A typo in a pattern keeps nothing.
  hold "case-2291" {
    cameras = ["dock-2", "dokc-*"]
    from    = "2026-12-01T21:00:00Z"
    to      = "2026-12-01T23:30:00Z"
  }
}
