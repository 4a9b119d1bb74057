variable "site_name" {
  type = string
}

variable "count" {
  type    = number
  default = "many"
}

variable "servers" {
  type    = list(string)
  default = ["srv-1"]
}

variable "servers" {
  type = string
}

locals {
  a = local.b
  b = local.a
}

site "hq" {
  description = var.sitename
}
