site "hq" {
  time_zone = "Mars/Olympus_Mons"
  server "srv-1" {
    address = "10.0.0.1"
    kind    = "archive"
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

  camera "cam1" {
    url        = "rtsp://10.0.1.1/s"
    server     = "srv-2"
    redundancy = "paranoid"
    transport  = "quic"
  }
  camera "cam2" {
    url        = "rtsp://10.0.1.2/s"
    server     = "srv-2"
    redundancy = "constant"
  }
  camera "bad name/../x" {
    url    = "rtsp://10.0.1.3/s"
    server = "srv-2"
  }
}
