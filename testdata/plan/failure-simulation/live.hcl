site "hq" {
  description = "Head office"

  server "rec-1" {
    address     = "10.0.0.11"
    max_cameras = 3

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "rec-2" {
    address     = "10.0.0.12"
    max_cameras = 4

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "rec-3" {
    address     = "10.0.0.13"
    max_cameras = 2

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "spare" {
    address     = "10.0.0.19"
    kind        = "standby"
    max_cameras = 1

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  camera "entrance" {
    url    = "rtsp://10.1.0.1/stream1"
    server = "rec-1"
    backup = ["rec-2", "rec-3"]
  }

  camera "lobby" {
    url    = "rtsp://10.1.0.2/stream1"
    server = "rec-1"
    backup = ["rec-3"]
  }

  camera "plate-in" {
    url    = "rtsp://10.1.0.7/stream1"
    server = "rec-1"
    locked = true
  }

  camera "yard" {
    url    = "rtsp://10.1.0.3/stream1"
    server = "rec-2"
    backup = ["rec-3"]
  }

  camera "plate-out" {
    url    = "rtsp://10.1.0.8/stream1"
    server = "rec-2"
    locked = true
  }

  camera "dock" {
    url    = "rtsp://10.1.0.4/stream1"
    server = "rec-2"
    backup = ["rec-3"]
  }

  camera "gate" {
    url    = "rtsp://10.1.0.6/stream1"
    server = "rec-2"
    backup = ["rec-3"]
  }

  camera "roof" {
    url    = "rtsp://10.1.0.5/stream1"
    server = "rec-3"
    backup = ["rec-1"]
  }
}
