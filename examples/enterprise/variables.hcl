# Camera credentials never live in git: set them when validating or applying,
#   VIGIL_VAR_camera_password=... vigil validate examples/enterprise
variable "camera_password" {
  type        = string
  sensitive   = true
  description = "Password of the vigil account on every camera"
}

variable "camera_username" {
  type    = string
  default = "vigil"
}

variable "retention" {
  type        = string
  default     = "30d"
  description = "How long ordinary cameras keep their recordings"
}
