# Every argument of the language, set explicitly.
domain "acme" {
  description = "All of it"
}

site "root" {
  virtual = true
  server "directory" {
    kind = "virtual"
  }
}

site "hq" {
  parent                   = "root"
  description              = "Head office"
  virtual                  = false
  keepalive                = "250ms"
  failback                 = false
  max_concurrent_failovers = 2
  virtual_ip               = "10.0.0.10/24"
  time_sync                = true
  time_zone                = "America/New_York"

  server "srv-1" {
    address          = "10.0.0.1"
    port             = 7000
    external_address = "vigil-1.example.com"
    external_port    = 17000
    kind             = "recording"
    max_cameras      = 100

    storage "main" {
      path     = "/var/lib/vigil"
      max_size = "2TiB"
      max_age  = "2w"
      min_free = "50GB"
    }
    storage "archive" {
      path     = "/archive"
      max_size = "500MB"
      min_free = "2.5%"
    }

    network {
      interface "eth0" {
        addresses = ["10.0.0.1/24", "fd00::1/64"]
        mtu       = 1500
        dhcp      = false
      }
      route {
        destination = "0.0.0.0/0"
        gateway     = "10.0.0.254"
        interface   = "eth0"
      }
    }
  }
  server "srv-2" {
    address = "10.0.0.1"
    port    = 7003
    storage "main" {
      path = "/var/lib/vigil"
    }
  }
  server "spare" {
    address = "10.0.0.3"
    kind    = "standby"
    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  group "pool" {
    servers = ["srv-2", "spare"]
  }

  camera "door" {
    url              = "rtsps://10.0.1.1:322/live?profile=1"
    username         = "viewer"
    password         = "plain-text-password"
    server           = "srv-1"
    backup           = ["srv-2", "spare"]
    locked           = false
    redundancy       = "constant"
    transport        = "udp"
    retention        = "14d"
    segment_duration = "30s"
    stall_timeout    = "2500ms"
    balance          = false
    labels = {
      zone  = "entrance"
      floor = "0"
    }
  }
  camera "hall" {
    url        = "rtsp://10.0.1.2/live"
    server     = "srv-2"
    group      = "pool"
    redundancy = "fast"
  }

  balancing {
    enabled                = true
    history_days           = 30
    min_days_between_moves = 3
    window                 = "22:30-24:00"
    weekdays               = ["Monday", "fri"]
    cameras                = ["h*"]
    labels                 = { zone = "entrance" }
    tolerance_percent      = 12.5
  }
}
