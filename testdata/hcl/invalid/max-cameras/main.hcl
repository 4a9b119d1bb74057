site "hq" {
  server "srv-1" {
    address     = "10.0.0.1"
    max_cameras = 2
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

  dynamic "camera" {
    for_each = range(1, 5)
    labels   = ["cam${camera.value}"]
    content {
      url    = "rtsp://10.0.1.${camera.value}/s"
      server = "srv-1"
      backup = ["srv-2"]
    }
  }
}
