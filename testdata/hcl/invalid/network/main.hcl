site "hq" {
  server "srv-1" {
    address = "10.0.0.1"
    storage "main" {
      path = "/rec"
    }
    network {
      interface "eth0" {
        addresses = ["10.0.0.1/24", "10.0.0.300/24", "10.0.0.2"]
        mtu       = 20
      }
      route {
        destination = "default"
        gateway     = "10.0.0"
      }
      route {
        destination = "10.9.0.0/16"
        interface   = "eth9"
      }
    }
  }
  server "srv-2" {
    address = "not a host!"
    storage "main" {
      path = "/rec"
    }
  }
  server "srv-3" {
    storage "main" {
      path = "/rec"
    }
  }
}
