variable "webhook_secret" {
  type      = string
  sensitive = true
}

variable "mail_password" {
  type      = string
  sensitive = true
}

site "hq" {
  event_retention = "30d"
  audit_retention = "730d"

  server "rec-1" {
    address = "10.0.0.11"
    storage "main" {
      path = "/rec"
    }
  }
  server "rec-2" {
    address = "10.0.0.12"
    storage "main" {
      path = "/rec"
    }
  }
  server "witness" {
    address = "10.0.0.13"
    kind    = "witness"
  }
  camera "door" {
    url    = "rtsp://10.0.1.1/s"
    server = "rec-1"
    backup = ["rec-2"]
  }

  # A site's own notifier and alert, next to the shared ones below.
  notifier "night-desk" {
    smtp {
      server   = "mail.example.com:587"
      from     = "vigil@example.com"
      to       = ["night@example.com"]
      username = "vigil"
      password = var.mail_password
    }
  }
  alert "storage" {
    when    = ["storage.full", "storage.floor", "storage.retention"]
    servers = ["rec-*"]
    notify  = ["night-desk"]
  }
}

notifier "ops-mail" {
  smtp {
    server = "mail.example.com:587" # STARTTLS; username/password (sensitive)
    from   = "vigil@example.com"
    to     = ["ops@example.com"]
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
