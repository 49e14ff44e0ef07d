package emulator_test

import (
	"fmt"

	"github.com/serverless-signalr/functions-go/emulator"
)

func ExampleEmulator_ConnectionString() {
	em := emulator.New(emulator.Options{})
	defer em.Close()
	fmt.Println(em.ConnectionString("http://localhost:8888"))
	// Output: Endpoint=http://localhost;Port=8888;AccessKey=ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789ABCDEFGH;Version=1.0;
}
