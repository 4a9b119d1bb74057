# Everything left out takes its default.
site "minimal" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-2" {
    address = "10.0.0.2"
    kind    = "standby"
    storage "main" {
      path = "/rec"
    }
  }
  server "witness" {
    address = "10.0.0.3"
    kind    = "witness"
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/stream"
    server = "srv-1"
  }

  balancing {
  }
}
