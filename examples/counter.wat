;; counter.wat - a persistent counter as a WebAssembly contract (see docs/wasm-abi.md).
;;
;; Reads storage slot 0, adds 1, writes it back and returns the new value as one 32-byte big-endian word,
;; like counter.zasm and counter.evm.
;;
;;   zvm run examples/counter.wat
(module
  (import "zvm" "storage_read" (func $storage_read (param i32 i32)))
  (import "zvm" "storage_write" (func $storage_write (param i32 i32)))
  (import "zvm" "return" (func $return (param i32 i32)))
  (memory 1)
  ;; memory[0..32]: the key (slot 0); memory[32..64]: the value.
  (func (export "call")
    (local $low i64)
    (call $storage_read (i32.const 0) (i32.const 32))
    ;; The word is big-endian: its low 64 bits are bytes 56..64, byte-swapped into an i64.
    (local.set $low (i64.add (call $load_be64 (i32.const 56)) (i64.const 1)))
    (call $store_be64 (i32.const 56) (local.get $low))
    (call $storage_write (i32.const 0) (i32.const 32))
    (call $return (i32.const 32) (i32.const 32)))
  (func $load_be64 (param $p i32) (result i64)
    (local $i i32) (local $v i64)
    (block $done
      (loop $next
        (br_if $done (i32.eq (local.get $i) (i32.const 8)))
        (local.set $v (i64.or (i64.shl (local.get $v) (i64.const 8))
                              (i64.load8_u (i32.add (local.get $p) (local.get $i)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (local.get $v))
  (func $store_be64 (param $p i32) (param $v i64)
    (local $i i32)
    (local.set $i (i32.const 8))
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $i)))
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (i64.store8 (i32.add (local.get $p) (local.get $i)) (local.get $v))
        (local.set $v (i64.shr_u (local.get $v) (i64.const 8)))
        (br $next)))))
