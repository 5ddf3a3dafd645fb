module chart_render

go 1.19

require (
	github.com/Masterminds/sprig/v3 v3.2.3
	gopkg.in/yaml.v3 v3.0.1
)
