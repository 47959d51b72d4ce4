<?php
declare(strict_types=1);

/** A throw-away CA and a server certificate for localhost / 127.0.0.1, made with openssl once per run. */
final class Certificates
{
    private static ?string $dir = null;

    public static function dir(): string
    {
        if (self::$dir !== null) {
            return self::$dir;
        }
        $dir = sys_get_temp_dir() . '/smtp34-certs-' . getmypid();
        @mkdir($dir, 0700, true);
        $run = static function (string $command) use ($dir): void {
            exec('cd ' . escapeshellarg($dir) . ' && ' . $command . ' 2>&1', $out, $code);
            if ($code !== 0) {
                throw new RuntimeException("openssl failed: $command\n" . implode("\n", $out));
            }
        };
        $run('openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=smtp34 test CA" -keyout ca.key -out ca.pem'
            . ' -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign');
        $run('openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr');
        file_put_contents("$dir/ext.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
        $run('openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem');
        return self::$dir = $dir;
    }

    /** @return array{cert: string, key: string} */
    public static function server(): array
    {
        return ['cert' => self::dir() . '/server.pem', 'key' => self::dir() . '/server.key'];
    }

    public static function ca(): string
    {
        return self::dir() . '/ca.pem';
    }
}
