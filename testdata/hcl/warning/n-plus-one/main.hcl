# srv-1 has no room to spare: if srv-2 fails, its cameras have nowhere to go.
site "hq" {
  server "srv-1" {
    address     = "10.0.0.1"
    max_cameras = 3
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

  server "witness" {
    address = "10.0.0.3"
    kind    = "witness"
  }

  dynamic "camera" {
    for_each = range(1, 4)
    labels   = ["a${camera.value}"]
    content {
      url    = "rtsp://10.0.1.${camera.value}/s"
      server = "srv-1"
      backup = ["srv-2"]
    }
  }
  dynamic "camera" {
    for_each = range(1, 3)
    labels   = ["b${camera.value}"]
    content {
      url    = "rtsp://10.0.2.${camera.value}/s"
      server = "srv-2"
      backup = ["srv-1"]
    }
  }
  # No backup and no standby in the site.
  camera "c1" {
    url    = "rtsp://10.0.3.1/s"
    server = "srv-2"
  }
  # Locked cameras go dark with their server by design: no warning.
  camera "lpr" {
    url    = "rtsp://10.0.3.2/s"
    server = "srv-2"
    locked = true
  }
}
