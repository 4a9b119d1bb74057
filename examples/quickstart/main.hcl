# The quickstart: one site of three servers on loopback addresses, twelve
# cameras served by `vigil camsim` on rtsp://127.0.0.1:8554, four per server.
# Every camera has the other two servers as backups, so any one server can
# fail and every camera keeps recording.
#
# `vigil dev examples/quickstart` runs the whole site in one process. Relative
# storage paths are relative to each agent's data directory.

locals {
  servers = ["srv-1", "srv-2", "srv-3"]
}

site "quickstart" {
  description = "Three servers, twelve simulated cameras"
  keepalive   = "500ms"

  dynamic "server" {
    for_each = local.servers
    labels   = [server.value]
    content {
      address = "127.0.0.${11 + server.key}"
      port    = 53540

      storage "main" {
        path     = "data/rec-${server.key + 1}"
        max_size = "2GB"
        max_age  = "1d"
        min_free = "5%"
      }
    }
  }

  # cam1..cam4 on srv-1, cam5..cam8 on srv-2, cam9..cam12 on srv-3.
  dynamic "camera" {
    for_each = range(1, 13)
    labels   = ["cam${camera.value}"]
    content {
      url    = "rtsp://127.0.0.1:8554/cam${camera.value}"
      server = local.servers[floor((camera.value - 1) / 4)]
      backup = [for s in local.servers : s if s != local.servers[floor((camera.value - 1) / 4)]]
      labels = {
        zone = camera.value <= 6 ? "north" : "south"
      }
    }
  }
}
