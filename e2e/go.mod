module github.com/cuegate/cuegate/e2e

go 1.26.8
