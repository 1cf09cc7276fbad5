;; FNV-1a (64-bit) over $n bytes: a 64 KiB buffer, filled with xorshift64 words (little-endian), hashed
;; round and round; the hash is finished with a multiply-xorshift avalanche. i64 arithmetic, byte loads.
(module
  (memory 1)
  (func (export "hash") (param $n i32) (result i64)
    (local $x i64) (local $i i32) (local $h i64)
    ;; Fill the buffer.
    (local.set $x (i64.const 0x9e3779b97f4a7c15))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (i32.const 0x10000)))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 13))))
        (local.set $x (i64.xor (local.get $x) (i64.shr_u (local.get $x) (i64.const 7))))
        (local.set $x (i64.xor (local.get $x) (i64.shl (local.get $x) (i64.const 17))))
        (i64.store (local.get $i) (local.get $x))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $fill)))
    ;; Hash $n bytes of it.
    (local.set $h (i64.const 0xcbf29ce484222325))
    (local.set $i (i32.const 0))
    (block $hashed
      (loop $byte
        (br_if $hashed (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $h
          (i64.mul (i64.xor (local.get $h) (i64.load8_u (i32.and (local.get $i) (i32.const 0xffff))))
                   (i64.const 0x100000001b3)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $byte)))
    ;; Avalanche.
    (local.set $h (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33))))
    (local.set $h (i64.mul (local.get $h) (i64.const 0xff51afd7ed558ccd)))
    (i64.xor (local.get $h) (i64.shr_u (local.get $h) (i64.const 33)))))
