site "hq" {
  keepalive = "50ms"
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
    url              = "rtsp://10.0.1.1/s"
    server           = "srv-1"
    segment_duration = "2 hours"
    stall_timeout    = "10"
  }
  camera "cam2" {
    url              = "rtsp://10.0.1.2/s"
    server           = "srv-1"
    segment_duration = "2h"
    stall_timeout    = "100ms"
    retention        = "10m"
  }
}

site "slow" {
  keepalive = "2m"
  server "s-1" {
    address = "10.1.0.1"
    storage "main" {
      path = "/rec"
    }
  }
}
