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

    public function isPost(): bool
    {
        return strtoupper($this->method) === 'POST';
    }
}
