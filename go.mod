module github.com/serverless-signalr/functions-go

go 1.26
