# NOT REACHABLE FROM HERE: the servers of this example have private addresses
# of an imaginary network. It is for `vigil validate` and the benchmarks
# (which plan it against in-process agents); `vigil plan`, `vigil apply` and
# `vigil status -config` would try to reach those addresses and fail.
#
# A large domain: 40 sites of five recording servers and one standby each,
# 250 cameras per site, 10,000 cameras in all, written with dynamic blocks.
# `make bench` times `vigil validate examples/large`.

locals {
  recorders = 5

  # Site n is site-NN on network 10.n.0.0/16.
  sites = [for n in range(1, 41) : { name = format("site-%02d", n), net = "10.${n}" }]

  # Every site has the same layout: 250 cameras, 50 per recording server,
  # each backed up by the next two servers. Computed once, used 40 times;
  # tolist and tomap give the values the types the camera arguments take, so
  # they are not converted again for each of the 10,000 cameras.
  cameras = [
    for i in range(250) : {
      name   = format("cam-%03d", i + 1)
      host   = "${floor(i / 200) + 1}.${i % 200 + 10}"
      server = "rec-${floor(i / 50) + 1}"
      backup = tolist(["rec-${(floor(i / 50) + 1) % 5 + 1}", "rec-${(floor(i / 50) + 2) % 5 + 1}"])
      labels = tomap({ floor = tostring(i % 4) })
    }
  ]
}

domain "large" {
  description = "40 sites, 10,000 cameras"
}

site "central" {
  description = "The root of the domain tree: organisational only"
  virtual     = true

  server "directory" {
    kind = "virtual"
  }
}

dynamic "site" {
  for_each = local.sites
  labels   = [site.value.name]
  content {
    parent    = "central"
    time_zone = "Europe/Berlin"

    dynamic "server" {
      for_each = range(local.recorders)
      labels   = ["rec-${server.value + 1}"]
      content {
        address     = "${site.value.net}.0.${server.value + 11}"
        max_cameras = 80

        storage "main" {
          path     = "/var/lib/vigil/recordings"
          max_age  = "30d"
          min_free = "5%"
        }
      }
    }

    server "standby" {
      address = "${site.value.net}.0.10"
      kind    = "standby"

      storage "main" {
        path     = "/var/lib/vigil/recordings"
        min_free = "5%"
      }
    }

    dynamic "camera" {
      for_each = local.cameras
      labels   = [camera.value.name]
      content {
        url    = "rtsp://${site.value.net}.${camera.value.host}/stream1"
        server = camera.value.server
        backup = camera.value.backup
        labels = camera.value.labels
      }
    }

    balancing {
      window   = "01:00-05:00"
      weekdays = ["sat", "sun"]
    }
  }
}
