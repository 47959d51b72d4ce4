<?php
$MESS['SMTP34_ACCOUNT_DELETE_CONFIRM'] = 'Delete this SMTP account? The site\'s letters will go through other accounts.';
$MESS['SMTP34_FILTER_TEXT'] = 'Name, email, server or login';
