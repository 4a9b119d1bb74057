# Variables, locals, functions and dynamic blocks at every level.
variable "servers" {
  type = map(object({ ip = string, disks = list(string) }))
  default = {
    "a" = { ip = "10.0.0.1", disks = ["/disk1", "/disk2"] }
    "b" = { ip = "10.0.0.2", disks = ["/disk1"] }
  }
}

variable "site" {
  type    = string
  default = "ignored: set in values.vars"
}

variable "cameras_per_server" {
  type    = number
  default = 2
}

locals {
  names   = sort(keys(var.servers))
  prefix  = upper(substr(var.site, 0, 2))
  cameras = flatten([for s in local.names : [for i in range(var.cameras_per_server) : { name = lower(format("%s-%s-%d", local.prefix, s, i + 1)), server = s }]])
}

# A site's name is a label, so it comes from a variable through a dynamic block.
dynamic "site" {
  for_each = [var.site]
  labels   = [site.value]
  content {
    description = join(", ", formatlist("%s=%s", local.names, [for n in local.names : var.servers[n].ip]))

    dynamic "server" {
      for_each = var.servers
      labels   = [server.key]
      content {
        address = server.value.ip
        dynamic "storage" {
          for_each = server.value.disks
          labels   = ["disk${storage.key}"]
          content {
            path     = storage.value
            max_size = "${max(1, length(server.value.disks)) * 100}GB"
          }
        }
        network {
          dynamic "interface" {
            for_each = ["eth0"]
            labels   = [interface.value]
            content {
              addresses = ["${server.value.ip}/24"]
            }
          }
        }
      }
    }

    server "w" {
      address = "10.0.0.9"
      kind    = "witness"
    }

    dynamic "camera" {
      for_each = { for c in local.cameras : c.name => c }
      labels   = [camera.key]
      content {
        url    = "rtsp://cams.example.com/${camera.key}"
        server = camera.value.server
        backup = [for s in local.names : s if s != camera.value.server]
        labels = merge({ server = camera.value.server }, contains(["a"], camera.value.server) ? { first = "yes" } : {})
      }
    }
  }
}
