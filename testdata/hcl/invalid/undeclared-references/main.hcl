site "hq" {
  parent = "headquarter"
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-2" {
    address = "10.0.0.2"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-3" {
    address = "10.0.0.3"
    storage "main" {
      path = "/rec"
    }
  }

  group "lobby" {
    servers = ["srv-2", "srv-4"]
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "srv-4"
  }
  camera "cam2" {
    url    = "rtsp://10.0.1.2/s"
    server = "srv-1"
    backup = ["srv-2", "srv3"]
  }
  camera "cam3" {
    url    = "rtsp://10.0.1.3/s"
    server = "srv-1"
    group  = "loby"
  }
  camera "cam4" {
    url = "rtsp://10.0.1.4/s"
  }

  balancing {
    cameras = ["cam1", "cam5", "cam*", "door-*"]
  }
}

site "headquarters" {
  server "hq-1" {
    address = "10.1.0.1"
    storage "main" {
      path = "/rec"
    }
  }
}
