# srv-2 is full with its own camera, so the constant copy of c1 that
# srv-2 should record as its first backup has no room: if srv-1 fails,
# c1 is not recorded anywhere. (vigil's first N+1 check assumed the copy
# was already on srv-2 and did not warn.)
site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-2" {
    address     = "10.0.0.2"
    max_cameras = 1
    storage "main" {
      path = "/rec"
    }
  }
  server "witness" {
    address = "10.0.0.3"
    kind    = "witness"
  }

  camera "c1" {
    url        = "rtsp://10.0.1.1/s"
    server     = "srv-1"
    backup     = ["srv-2"]
    redundancy = "constant"
  }
  camera "b1" {
    url    = "rtsp://10.0.2.1/s"
    server = "srv-2"
    backup = ["srv-1"]
  }
}
