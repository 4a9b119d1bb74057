# A site of 2,500 cameras on 10 servers, for the planner's benchmarks
# (go test -bench . ./planner). Camera i is recorded by server i mod 10 with
# the next two servers as backups; each server takes at most 400 cameras,
# which is enough to lose any one server. The range function stops at 1,024
# values, hence the flatten.

locals {
  servers = [for i in range(1, 11) : "rec-${i}"]
}

site "large" {
  description = "2,500 cameras on 10 servers"

  dynamic "server" {
    for_each = local.servers
    labels   = [server.value]
    content {
      address     = "10.0.0.${11 + server.key}"
      max_cameras = 400

      storage "main" {
        path     = "/var/lib/vigil"
        max_size = "20TB"
        min_free = "5%"
      }
    }
  }

  dynamic "camera" {
    for_each = flatten([for a in range(10) : [for b in range(250) : a * 250 + b]])
    labels   = [format("cam-%04d", camera.value)]
    content {
      url    = "rtsp://10.1.${floor(camera.value / 250)}.${camera.value % 250 + 1}/stream1"
      server = local.servers[camera.value % 10]
      backup = [local.servers[(camera.value + 1) % 10], local.servers[(camera.value + 2) % 10]]
      labels = {
        floor = tostring(floor(camera.value / 500))
      }
    }
  }
}
