variable "secret" {
  type      = string
  sensitive = true
  default   = "hunter2-secret"
}

site "hq" {
  description = "Entrance code: ${var.secret}"
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

  camera "cam1" {
    url      = "rtsp://10.0.1.1/s"
    server   = "srv-1"
    password = var.secret
    labels   = { code = var.secret }
  }
}
