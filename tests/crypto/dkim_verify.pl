#!/usr/bin/perl
# Independent DKIM verifier for tests/crypto/test_dkim.py, built on Debian's Mail::DKIM
# (apt package libmail-dkim-perl).
#
# Usage: perl dkim_verify.pl NAME RECORD < message
#   NAME    the only DNS name that resolves, e.g. "sel._domainkey.example.fi"
#   RECORD  its TXT record, e.g. "v=DKIM1; k=rsa; p=MIIB..."
# Prints one line per signature, "<result> <domain> <detail>", then "overall: <result>".
#
# The public key is supplied locally by replacing Mail::DKIM::DNS::query, the one function
# Mail::DKIM's key fetch goes through, so the test never touches the network and any other
# name (a wrong selector or domain) looks like NXDOMAIN.
use strict;
use warnings;

use Mail::DKIM 1.0;
use Mail::DKIM::DNS;
use Mail::DKIM::Verifier;
use Net::DNS;

my ( $name, $record ) = @ARGV;
defined $record or die "usage: $0 NAME RECORD < message\n";

{
    no warnings 'redefine';
    *Mail::DKIM::DNS::query = sub {
        my ( $domain, $type ) = @_;
        if ( lc($domain) ne lc($name) || uc($type) ne 'TXT' ) {
            $@ = 'NXDOMAIN';
            return;
        }
        # A TXT record is a list of strings of at most 255 bytes; a 2048-bit key needs two.
        my @chunks = unpack( '(a255)*', $record );
        my $rr = Net::DNS::RR->new(
            name    => $name,
            type    => 'TXT',
            txtdata => [@chunks],
        );
        $@ = '';
        return ($rr);
    };
}

binmode STDIN;
my $verifier = Mail::DKIM::Verifier->new();
while ( my $line = <STDIN> ) {
    # Mail::DKIM wants CRLF line ends; tolerate bare LF input.
    $line =~ s/\r?\n\z/\r\n/;
    $verifier->PRINT($line);
}
$verifier->CLOSE();

foreach my $signature ( $verifier->signatures ) {
    printf "%s %s %s\n", $signature->result, $signature->domain // '-',
      $signature->result_detail // '-';
}
printf "overall: %s\n", $verifier->result;
