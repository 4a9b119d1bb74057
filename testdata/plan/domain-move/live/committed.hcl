# The specs committed to the sites that answer (emea, a virtual site, holds
# its spec on its virtual server like any other site).

site "hq" {
  server "hq-1" {
    address = "10.0.0.11"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "hq-2" {
    address = "10.0.0.12"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  camera "lobby" {
    url    = "rtsp://10.0.1.1/stream1"
    server = "hq-1"
    backup = ["hq-2"]
  }

  camera "gate" {
    url    = "rtsp://10.0.1.2/stream1"
    server = "hq-2"
    backup = ["hq-1"]
  }
}

site "emea" {
  parent  = "hq"
  virtual = true

  server "emea-directory" {
    kind    = "virtual"
    address = "10.9.0.11"
  }
}

site "branch-1" {
  parent = "emea"

  server "b1-1" {
    address = "10.1.0.11"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "b1-2" {
    address = "10.1.0.12"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  camera "till" {
    url    = "rtsp://10.1.1.2/stream1"
    server = "b1-2"
    backup = ["b1-1"]
  }

  camera "door" {
    url    = "rtsp://10.1.1.1/stream1"
    server = "b1-1"
    backup = ["b1-2"]
  }
}

site "branch-2" {
  parent = "emea"

  # Reached from the head office through NAT.
  server "b2-1" {
    address          = "10.2.0.11"
    external_address = "203.0.113.20"
    external_port    = 8443

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "b2-2" {
    address = "10.2.0.12"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  camera "dock" {
    url    = "rtsp://10.2.1.1/stream1"
    server = "b2-1"
    backup = ["b2-2"]
  }
}
