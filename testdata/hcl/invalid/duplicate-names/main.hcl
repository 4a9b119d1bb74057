site "hq" {
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
  server "srv-1" {
    address = "10.0.0.9"
    storage "main" {
      path = "/rec"
    }
    storage "main" {
      path = "/rec2"
    }
  }

  group "g" {
    servers = ["srv-1"]
  }
  group "g" {
    servers = ["srv-2"]
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "srv-1"
  }
  camera "cam1" {
    url    = "rtsp://10.0.1.2/s"
    server = "srv-2"
  }
}

site "hq" {
  server "srv-1" {
    address = "10.0.0.21"
    storage "main" {
      path = "/rec"
    }
  }
}
