variable "camera_password" {
  type      = string
  sensitive = true
  default   = "same-Secr3t!"
}

site "hq" {
  description = "Head office"

  server "rec-1" {
    address = "10.0.0.11"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "rec-2" {
    address = "10.0.0.12"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "rec-3" {
    address = "10.0.0.13"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  group "north" {
    servers = ["rec-2", "rec-3"]
  }

  camera "entrance" {
    url      = "rtsp://10.1.0.1/stream1"
    server   = "rec-1"
    backup   = ["rec-2"]
    username = "admin"
    password = var.camera_password
  }

  camera "lobby" {
    url    = "rtsp://viewer:${var.camera_password}@10.1.0.2/stream1"
    server = "rec-1"
    group  = "north"
  }

  camera "yard" {
    url    = "rtsp://10.1.0.3/stream1"
    server = "rec-2"
    backup = ["rec-3", "rec-1"]
  }

  camera "dock" {
    url    = "rtsp://10.1.0.4/stream1"
    server = "rec-3"
    backup = ["rec-1"]
  }

  user "alice" {
    role          = "operator"
    cameras       = ["lobby", "dock"]
    password_hash = "$argon2id$v=19$m=65536,t=3,p=2$bmV3c2FsdG5ld3NhbHQ$bmV3aGFzaG5ld2hhc2huZXdoYXNobmV3aGFzaG5ldw"
  }

  user "bob" {
    role          = "operator"
    password_hash = "$argon2id$v=19$m=65536,t=3,p=2$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
  }

  token "ci" {
    role = "admin"
    hash = "sha256:60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752"
  }
}
