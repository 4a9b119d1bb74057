variable "camera_password" {
  type      = string
  sensitive = true
  default   = "same-Secr3t!"
}

variable "mail_password" {
  type      = string
  sensitive = true
  default   = "SECRET_MAIL"
}

variable "webhook_secret" {
  type      = string
  sensitive = true
  default   = "SECRET_WEBHOOK"
}

site "hq" {
  description = "Head office"
  audit_retention = "90d"

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
}

notifier "ops-mail" {
  smtp {
    server   = "mail.example.com:587" # STARTTLS; username/password (sensitive)
    from     = "vigil@example.com"
    to       = ["ops@example.com"]
    username = "vigil"
    password = var.mail_password
  }
}
notifier "pager" {
  webhook {
    url    = "https://hooks.example.com/vigil"
    secret = var.webhook_secret # HMAC-SHA256 of the body in a header
  }
}
notifier "home" {
  mqtt {
    broker = "tcp://10.0.0.5:1883"
    topic  = "vigil/hq"
  }
}
alert "camera-dark" {
  when    = ["camera.unreachable", "camera.stalled", "gap.open"]
  for     = "60s" # only if it lasts; a short glitch sends nothing
  cameras = ["*"]
  notify  = ["ops-mail", "pager"]
}
alert "failover" {
  when   = ["server.dead", "takeover", "server.back"]
  notify = ["pager", "home"]
}
