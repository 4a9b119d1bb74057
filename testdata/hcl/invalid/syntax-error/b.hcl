# The error is in the second file of the directory.
site "branch" {
  server "srv-1" {
    address = "10.0.0.1"
    port    = 
  }
}
