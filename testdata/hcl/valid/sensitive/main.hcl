variable "password" {
  type      = string
  sensitive = true
}

variable "credentials" {
  type      = map(string)
  sensitive = true
}

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

  server "w" {
    address = "10.0.0.9"
    kind    = "witness"
  }

  camera "cam1" {
    url      = "rtsp://10.0.1.1/s"
    username = "admin"
    password = var.password
    server   = "srv-1"
    backup   = ["srv-2"]
  }
  camera "cam2" {
    url    = "rtsp://admin:${var.credentials["cam2"]}@10.0.1.2/s"
    server = "srv-2"
    backup = ["srv-1"]
  }
}
