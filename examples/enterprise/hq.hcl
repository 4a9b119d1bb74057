# NOT REACHABLE FROM HERE: the servers of this example have private addresses
# (10.x) of an imaginary network. Read it, validate it
# (VIGIL_VAR_camera_password=x vigil validate examples/enterprise) and format
# it; `vigil plan`, `vigil apply` and `vigil status -config`
# would try to reach those addresses and fail. For a site that runs on this
# machine, use examples/quickstart with `vigil dev`.
#
# Head office: three recording servers and a standby (N+1). Plate
# recognition runs on hq-rec-1, so the gate cameras are locked to it.
site "hq" {
  description = "Head office, Berlin"
  time_zone   = "Europe/Berlin"
  keepalive   = "500ms"
  virtual_ip  = "10.1.0.10/24"
  time_sync   = true

  max_concurrent_failovers = 1

  server "hq-rec-1" {
    address     = "10.1.0.11"
    max_cameras = 64

    storage "main" {
      path     = local.recordings.path
      max_size = local.recordings.max_size
      min_free = local.recordings.min_free
    }
    storage "analytics" {
      path    = "/srv/plates"
      max_age = "90d"
    }

    network {
      interface "eth0" {
        addresses = ["10.1.0.11/24"]
        mtu       = 9000
      }
      interface "eth1" {
        dhcp = true
      }
      route {
        destination = "0.0.0.0/0"
        gateway     = "10.1.0.1"
        interface   = "eth0"
      }
    }
  }

  dynamic "server" {
    for_each = ["hq-rec-2", "hq-rec-3"]
    labels   = [server.value]
    content {
      address     = "10.1.0.${12 + server.key}"
      max_cameras = 64

      storage "main" {
        path     = local.recordings.path
        max_size = local.recordings.max_size
        min_free = local.recordings.min_free
      }
    }
  }

  server "hq-standby" {
    address = "10.1.0.20"
    kind    = "standby"

    storage "main" {
      path     = local.recordings.path
      max_size = local.recordings.max_size
      min_free = local.recordings.min_free
    }
  }

  # Groups list servers in priority order.
  group "offices" {
    servers = ["hq-rec-2", "hq-rec-3", "hq-standby"]
  }
  group "yard" {
    servers = ["hq-rec-3", "hq-rec-1", "hq-standby"]
  }

  # Licence-plate recognition runs on hq-rec-1: these cameras never move.
  dynamic "camera" {
    for_each = { "gate-in" = 31, "gate-out" = 32 }
    labels   = ["lpr-${camera.key}"]
    content {
      url        = "rtsp://10.1.20.${camera.value}/h264"
      username   = var.camera_username
      password   = var.camera_password
      server     = "hq-rec-1"
      locked     = true
      balance    = false
      retention  = "90d"
      redundancy = "fast"
      labels     = { analytics = "plates", zone = "gate" }
    }
  }

  # The vault is recorded twice at all times: no gap even at the instant a
  # server dies.
  camera "vault" {
    url        = "rtsp://10.1.20.40/h264"
    username   = var.camera_username
    password   = var.camera_password
    server     = "hq-rec-2"
    backup     = ["hq-rec-3", "hq-standby"]
    redundancy = "constant"
    balance    = false
    retention  = "180d"
    labels     = { zone = "vault" }
  }
  camera "cash-office" {
    url        = "rtsp://10.1.20.41/h264"
    username   = var.camera_username
    password   = var.camera_password
    server     = "hq-rec-1"
    group      = "offices"
    redundancy = "constant"
    balance    = false
    retention  = "180d"
    labels     = { zone = "vault" }
  }

  dynamic "camera" {
    for_each = range(1, 25)
    labels   = [format("office-%02d", camera.value)]
    content {
      url       = "rtsp://10.1.21.${camera.value}/stream1"
      username  = var.camera_username
      password  = var.camera_password
      server    = camera.value % 2 == 0 ? "hq-rec-1" : "hq-rec-2"
      group     = "offices"
      retention = var.retention
      labels    = { zone = "offices", floor = tostring(ceil(camera.value / 8)) }
    }
  }

  dynamic "camera" {
    for_each = range(1, 17)
    labels   = [format("yard-%02d", camera.value)]
    content {
      url       = "rtsp://10.1.22.${camera.value}/stream1"
      username  = var.camera_username
      password  = var.camera_password
      server    = "hq-rec-3"
      group     = "yard"
      transport = "udp"
      retention = var.retention
      labels    = { zone = "yard" }
    }
  }

  # Rebalance office and yard cameras by storage load at weekend nights.
  balancing {
    history_days           = 14
    min_days_between_moves = 7
    window                 = "01:00-05:00"
    weekdays               = ["sat", "sun"]
    cameras                = ["office-*", "yard-*"]
    tolerance_percent      = 15
  }
}
