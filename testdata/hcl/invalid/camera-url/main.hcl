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

  camera "http" {
    url    = "http://10.0.1.1/stream"
    server = "srv-1"
  }
  camera "no-host" {
    url    = "rtsp:///stream"
    server = "srv-1"
  }
  camera "garbage" {
    url    = "rtsp://user:pw@[::1/stream"
    server = "srv-2"
  }
  camera "missing" {
    server = "srv-2"
  }
  camera "fine" {
    url    = "RTSPS://camera.example.com:322/live"
    server = "srv-3"
  }
}
