# A domain of four sites under the head office: a virtual region above three
# branches. Camera "till" moves from branch-1 to branch-2, "gate" at the
# head office gets fast redundancy, and branch-3 does not answer.
domain "acme" {
  description = "ACME Corp. video surveillance"
}

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
    url        = "rtsp://10.0.1.2/stream1"
    server     = "hq-2"
    backup     = ["hq-1"]
    redundancy = "fast"
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

  camera "till" {
    url    = "rtsp://10.1.1.2/stream1"
    server = "b2-2"
    backup = ["b2-1"]
  }
}

site "branch-3" {
  parent = "emea"

  server "b3-1" {
    address = "10.3.0.11"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }

  server "b3-2" {
    address          = "10.3.0.12"
    external_address = "203.0.113.30"

    storage "main" {
      path = "/var/lib/vigil"
    }
  }
}
