module github.com/rpmirror/rpmirror

go 1.26.0

require (
	github.com/DataDog/zstd v1.5.5 // indirect
	github.com/ProtonMail/go-crypto v1.5.2 // indirect
	github.com/cavaliergopher/grab/v3 v3.0.1 // indirect
	github.com/cloudflare/circl v1.6.3 // indirect
	github.com/klauspost/compress v1.20.4 // indirect
	github.com/orisano/gosax v1.1.4 // indirect
	github.com/robfig/cron/v3 v3.0.1 // indirect
	github.com/sassoftware/go-rpmutils v0.4.0 // indirect
	github.com/ulikunitz/xz v0.5.17 // indirect
	github.com/xi2/xz v0.0.0-20171230120015-48954b6210f8 // indirect
	go.yaml.in/yaml/v3 v3.0.6 // indirect
	golang.org/x/crypto v0.41.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
