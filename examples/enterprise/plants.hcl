# NOT REACHABLE FROM HERE: the servers of this example have private addresses
# (10.x) of an imaginary network. Read it, validate it
# (VIGIL_VAR_camera_password=x vigil validate examples/enterprise) and format
# it; `vigil plan`, `vigil apply` and `vigil status -config`
# would try to reach those addresses and fail. For a site that runs on this
# machine, use examples/quickstart with `vigil dev`.
#
# Two plants under the head office. North is small: two recording servers
# and a witness, so it can still change its configuration with one server
# down. South has four recording servers and a standby.

locals {
  north_cameras = {
    "press-1"   = { ip = "10.2.20.11", server = "north-1" }
    "press-2"   = { ip = "10.2.20.12", server = "north-1" }
    "press-3"   = { ip = "10.2.20.13", server = "north-2" }
    "loading-1" = { ip = "10.2.20.21", server = "north-2" }
    "loading-2" = { ip = "10.2.20.22", server = "north-1" }
  }
  # Production line => the third octet of its camera subnet.
  south_lines = { a = 20, b = 21, c = 22, d = 23 }
}

site "plant-north" {
  parent    = "hq"
  time_zone = "Europe/Berlin"

  dynamic "server" {
    for_each = ["north-1", "north-2"]
    labels   = [server.value]
    content {
      address = "10.2.0.${11 + server.key}"

      storage "main" {
        path     = local.recordings.path
        max_size = "4TB"
        min_free = "20GB"
      }
    }
  }

  server "north-witness" {
    address = "10.2.0.19"
    kind    = "witness"
  }

  dynamic "camera" {
    for_each = local.north_cameras
    labels   = [camera.key]
    content {
      url       = "rtsp://${camera.value.ip}/stream1"
      username  = var.camera_username
      password  = var.camera_password
      server    = camera.value.server
      backup    = [camera.value.server == "north-1" ? "north-2" : "north-1"]
      retention = var.retention
    }
  }
}

site "plant-south" {
  parent    = "hq"
  time_zone = "Europe/Berlin"
  failback  = false

  dynamic "server" {
    for_each = keys(local.south_lines)
    labels   = ["south-${server.value}"]
    content {
      address     = "10.3.0.${11 + server.key}"
      max_cameras = 40

      storage "main" {
        path     = local.recordings.path
        max_size = local.recordings.max_size
        min_free = local.recordings.min_free
      }
    }
  }

  server "south-standby" {
    address = "10.3.0.20"
    kind    = "standby"

    storage "main" {
      path     = local.recordings.path
      max_size = local.recordings.max_size
      min_free = local.recordings.min_free
    }
  }

  # Eight cameras per production line, recorded by that line's server; the
  # standby covers whichever server fails.
  dynamic "camera" {
    for_each = setproduct(keys(local.south_lines), range(1, 9))
    labels   = ["line-${camera.value[0]}-${camera.value[1]}"]
    content {
      url       = "rtsp://10.3.${local.south_lines[camera.value[0]]}.${camera.value[1]}/stream1"
      username  = var.camera_username
      password  = var.camera_password
      server    = "south-${camera.value[0]}"
      retention = var.retention
      labels    = { line = camera.value[0] }
    }
  }

  balancing {
    window   = "22:00-04:00"
    weekdays = ["mon", "tue", "wed", "thu", "fri"]
    labels   = { line = "a" }
  }
}
