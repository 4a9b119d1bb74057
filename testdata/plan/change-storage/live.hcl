site "hq" {
  description = "Head office"
  keepalive   = "500ms"

  server "rec-1" {
    address = "10.0.0.11"

    storage "main" {
      path     = "/var/lib/vigil"
      max_size = "500GB"
      min_free = "5%"
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

  group "north" {
    servers = ["rec-2", "rec-3"]
  }

  camera "entrance" {
    url        = "rtsp://10.1.0.1/stream1"
    server     = "rec-1"
    backup     = ["rec-2"]
    redundancy = "constant"
  }

  camera "lobby" {
    url    = "rtsp://10.1.0.2/stream1"
    server = "rec-1"
    group  = "north"
  }

  camera "yard" {
    url        = "rtsp://10.1.0.3/stream1"
    server     = "rec-2"
    backup     = ["rec-3", "rec-1"]
    redundancy = "fast"
  }

  camera "dock" {
    url    = "rtsp://10.1.0.4/stream1"
    server = "rec-3"
    backup = ["rec-1"]
  }
}
