<?php
declare(strict_types=1);

namespace Smtp34\Admin;

/** What a page needs of an HTTP request, whoever serves it. */
final class Request
{
    /**
     * @param array<string, mixed> $query
     * @param array<string, mixed> $post
     */
    public function __construct(
        public readonly string $method,
        public readonly array $query,
        public readonly array $post,
    ) {
    }

    /** POST fields that a page takes as a list (the accounts list's group action). */
    public const LIST_FIELDS = ['ids'];

    /**
     * The name of the first parameter of the wrong shape (an array where a
     * page takes one value, `/logs?view[]=x`), or null when all are fine:
     * such a request is a 400, never a PHP warning on the page.
     *
     * @param array<string, mixed> $query
     * @param array<string, mixed> $post
     */
    public static function misshapen(array $query, array $post): ?string
    {
        foreach ($query as $name => $value) {
            if (!is_string($value)) {
                return (string) $name;
            }
        }
        foreach ($post as $name => $value) {
            $list = in_array($name, self::LIST_FIELDS, true);
            if ($list ? !is_array($value) || array_filter($value, 'is_array') !== [] : !is_string($value)) {
                return (string) $name;
            }
        }
        return null;
    }

    public function isPost(): bool
    {
        return strtoupper($this->method) === 'POST';
    }
}
