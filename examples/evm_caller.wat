;; evm_caller.wat - a WebAssembly contract that calls another contract (of any format: EVM, ZVM or
;; WebAssembly) and returns what it returned. See docs/wasm-abi.md.
;;
;; Call data: the callee's address as one 32-byte word, then the call data to forward.
;; Output: the callee's output; reverts with the callee's output if the callee failed.
(module
  (import "zvm" "input_size" (func $input_size (result i32)))
  (import "zvm" "input_copy" (func $input_copy (param i32 i32 i32)))
  (import "zvm" "call" (func $call (param i64 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "zvm" "gas_left" (func $gas_left (result i64)))
  (import "zvm" "return_data_size" (func $return_data_size (result i32)))
  (import "zvm" "return_data_copy" (func $return_data_copy (param i32 i32 i32)))
  (import "zvm" "return" (func $return (param i32 i32)))
  (import "zvm" "revert" (func $revert (param i32 i32)))
  (memory 1)
  ;; Layout: 0..32 the value sent (zero); 32.. the call data (address word, then the forwarded input).
  (func (export "call")
    (local $size i32) (local $ok i32) (local $out i32)
    (local.set $size (call $input_size))
    (if (i32.lt_u (local.get $size) (i32.const 32)) (then (call $revert (i32.const 0) (i32.const 0))))
    (if (i32.gt_u (local.get $size) (i32.const 32768)) (then (call $revert (i32.const 0) (i32.const 0))))
    (call $input_copy (i32.const 32) (i32.const 0) (local.get $size))
    (local.set $ok
      (call $call (call $gas_left) (i32.const 32) (i32.const 0)
                  (i32.const 64) (i32.sub (local.get $size) (i32.const 32))
                  (i32.const 0) (i32.const 0)))
    (local.set $out (call $return_data_size))
    (if (i32.gt_u (local.get $out) (i32.const 32768)) (then (call $revert (i32.const 0) (i32.const 0))))
    (call $return_data_copy (i32.const 32768) (i32.const 0) (local.get $out))
    (if (local.get $ok)
      (then (call $return (i32.const 32768) (local.get $out))))
    (call $revert (i32.const 32768) (local.get $out))))
