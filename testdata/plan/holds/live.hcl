site "hq" {
  server "rec-1" {
    address = "10.0.0.11"
    storage "main" {
      path = "/var/lib/vigil"
    }
  }
  server "rec-2" {
    address = "10.0.0.12"
    storage "main" {
      path = "/var/lib/vigil"
    }
  }
  server "rec-3" {
    address = "10.0.0.13"
    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  camera "dock-1" {
    url        = "rtsp://10.1.0.1/stream1"
    server     = "rec-1"
    backup     = ["rec-2"]
    redundancy = "constant"
  }
  camera "dock-2" {
    url    = "rtsp://10.1.0.2/stream1"
    server = "rec-2"
    backup = ["rec-3"]
  }
  camera "lobby" {
    url    = "rtsp://10.1.0.3/stream1"
    server = "rec-3"
    backup = ["rec-1"]
  }

  hold "case-2291" {
    cameras = ["dock-*"]
    from    = "2026-11-20T21:00:00Z"
    to      = "2026-11-20T23:30:00Z"
    reason  = "break-in"
  }

  hold "old-case" {
    cameras = ["lobby"]
    from    = "2026-11-15T08:00:00Z"
    to      = "2026-11-15T09:00:00Z"
    reason  = "slip and fall, settled"
  }
}
