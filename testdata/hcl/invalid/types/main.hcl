site "hq" {
  failback = "sometimes"
  server "srv-1" {
    address     = "10.0.0.1"
    max_cameras = 2.5
    port        = [53540]
    storage "main" {
      path = "/rec"
    }
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "srv-1"
    backup = "srv-2"
    labels = ["a"]
  }
}
