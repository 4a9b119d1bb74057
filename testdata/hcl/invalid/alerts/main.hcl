variable "secret" {
  type      = string
  sensitive = true
  default   = "s3cret-value"
}

site "hq" {
  event_retention = "5m"
  audit_retention = "4000d"

  server "rec-1" {
    address = "10.0.0.11"
    storage "main" {
      path = "/rec"
    }
  }

  notifier "two-channels" {
    webhook {
      url = "https://hooks.example.com/a"
    }
    mqtt {
      broker = "tcp://10.0.0.5:1883"
      topic  = "vigil/hq"
    }
  }
  notifier "nothing" {
  }
  notifier "bad-mail" {
    smtp {
      server = "mail.example.com"
      from   = "not an address"
      to     = []
    }
  }
  notifier "bad-hook" {
    webhook {
      url = "ftp://hooks.example.com/${var.secret}"
    }
  }
  notifier "bad-mqtt" {
    mqtt {
      broker   = "tcp://10.0.0.5"
      topic    = "vigil/#"
      password = var.secret
    }
  }
  alert "typos" {
    when    = ["server.ded", "takeover"]
    for     = "2d"
    cameras = ["[door"]
    notify  = ["pagr"]
  }
  alert "empty" {
  }
  alert "typos" {
    when   = ["server.dead"]
    notify = ["bad-hook"]
  }
}
