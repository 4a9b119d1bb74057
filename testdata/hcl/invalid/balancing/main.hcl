site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-2" {
    address = "10.0.0.2"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-3" {
    address = "10.0.0.3"
    storage "main" {
      path = "/rec"
    }
  }

  camera "cam1" {
    url    = "rtsp://10.0.1.1/s"
    server = "srv-1"
  }

  balancing {
    window                 = "25:00-05:00"
    weekdays               = ["mon", "funday", "mon"]
    history_days           = 0
    min_days_between_moves = 400
    tolerance_percent      = 0
    cameras                = ["cam[", "cam1"]
  }
}

site "b" {
  server "b-1" {
    address = "10.1.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  balancing {
    window = "05:00-05:00"
  }
}

site "c" {
  server "c-1" {
    address = "10.2.0.1"
    storage "main" {
      path = "/rec"
    }
  }

  balancing {
    window = "5-6"
  }
}
