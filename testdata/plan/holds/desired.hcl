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
    until   = "2027-06-01"
    reason  = "break-in, police ref 4471"
  }

  # Retention already deleted October.
  hold "insurance" {
    cameras = ["lobby"]
    from    = "2026-10-01T10:00:00Z"
    to      = "2026-10-01T11:00:00Z"
    reason  = "claim 88-1"
  }

  hold "expired" {
    cameras = ["dock-2"]
    from    = "2026-11-01T10:00:00Z"
    to      = "2026-11-01T11:00:00Z"
    until   = "2026-11-22"
  }

  # A period still to come keeps footage as it is recorded.
  hold "christmas" {
    cameras = ["dock-*", "lobby"]
    from    = "2026-12-24T00:00:00Z"
    to      = "2026-12-27T00:00:00Z"
    reason  = "site closed, insurer's request"
  }
}
