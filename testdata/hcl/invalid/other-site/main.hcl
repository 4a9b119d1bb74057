# Backups and group members must be servers of the camera's own site.
site "north" {
  server "n-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "n-2" {
    address = "10.0.0.2"
    storage "main" {
      path = "/rec"
    }
  }

  group "both" {
    servers = ["n-1", "s-1"]
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "n-1"
    backup = ["s-1"]
  }
}

site "south" {
  server "s-1" {
    address = "10.1.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "s-2" {
    address = "10.1.0.2"
    storage "main" {
      path = "/rec"
    }
  }

  camera "cam1" {
    url    = "rtsp://10.1.1.1/s"
    server = "s-1"
    group  = "both"
  }
}
