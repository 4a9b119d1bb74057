# A live site of 2,500 cameras on 10 servers, for the plan and apply
# benchmarks of dev/devsite (make bench). The planner's own benchmark
# file (testdata/plan/bench) points its cameras at 10.1.x.x; these point at
# var.camera_addr on loopback instead, because here ten real agents try to
# record them and no packet may leave the machine. Camera i is recorded by
# server i mod 10 with the next two servers as backups; at most 400 cameras
# per server leaves room for the cameras of any one failed server.
#
# The benchmark sets camera_addr to a listener that accepts connections and
# never answers, like a camera that hangs: with stall_timeout = 10m (the
# longest allowed) every recorder waits ten minutes before it fails, so the
# 2,500 recorders stay quiet while plan and apply are measured. The default,
# a closed port, makes every recorder fail at once and retry with backoff.
#
# -var cam0_transport=udp changes one camera, for the one-camera benchmarks.

variable "camera_addr" {
  type    = string
  default = "127.0.0.1:9"
}

variable "cam0_transport" {
  type    = string
  default = "tcp"
}

locals {
  servers = [for i in range(1, 11) : "rec-${i}"]
}

site "bench" {
  description = "2,500 cameras on 10 servers"
  keepalive   = "1s"

  dynamic "server" {
    for_each = local.servers
    labels   = [server.value]
    content {
      address     = "127.0.0.${11 + server.key}"
      port        = 53540
      max_cameras = 400

      storage "main" {
        path     = "recordings"
        max_size = "1GB"
      }
    }
  }

  # range() stops at 1,024 values, hence the flatten.
  dynamic "camera" {
    for_each = flatten([for a in range(10) : [for b in range(250) : a * 250 + b]])
    labels   = [format("cam-%04d", camera.value)]
    content {
      url           = "rtsp://${var.camera_addr}/stream${camera.value}"
      transport     = camera.value == 0 ? var.cam0_transport : "tcp"
      stall_timeout = "10m"
      server        = local.servers[camera.value % 10]
      backup        = [local.servers[(camera.value + 1) % 10], local.servers[(camera.value + 2) % 10]]
      labels = {
        floor = tostring(floor(camera.value / 500))
      }
    }
  }
}
