# Standby, witness and virtual servers are never a camera's primary, and
# witness and virtual servers never a backup.
site "hq" {
  server "rec" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  server "spare" {
    address = "10.0.0.2"
    kind    = "standby"
    storage "main" {
      path = "/rec"
    }
  }
  server "vote" {
    address = "10.0.0.3"
    kind    = "witness"
  }
  server "org" {
    kind = "virtual"
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "spare"
  }
  camera "cam2" {
    url    = "rtsp://10.0.1.2/s"
    server = "vote"
  }
  camera "cam3" {
    url    = "rtsp://10.0.1.3/s"
    server = "org"
  }
  camera "cam4" {
    url    = "rtsp://10.0.1.4/s"
    server = "rec"
    backup = ["vote", "spare", "rec"]
  }
}
