module github.com/arcache-go/arcache

go 1.26.0

require (
	github.com/hashicorp/golang-lru/v2 v2.0.7
	golang.org/x/image v0.47.0
	golang.org/x/sync v0.24.0
	golang.org/x/text v0.43.0
	gopkg.in/ini.v1 v1.67.3
)

require golang.org/x/sys v0.49.0
