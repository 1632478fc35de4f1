<?xml version="1.0" encoding="utf-8"?>
<!-- Shows tributary's RSS feed as a page when a browser opens it. Feed readers ignore it. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>
  <xsl:template match="/rss/channel">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="title"/> (feed)</title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; max-width: 42rem; margin: 0 auto; padding: 1rem; color: #222; }
          .about { background: #f3f1ea; padding: .75rem 1rem; border-radius: .5rem; }
          .about code { word-break: break-all; }
          article { border-bottom: 1px solid #ddd; padding: .75rem 0; }
          article h2 { font-size: 1.1rem; margin: 0 0 .25rem; }
          .meta { color: #666; font-size: .875rem; }
          a { color: #0b5394; }
        </style>
      </head>
      <body>
        <p class="about">This is a news feed. Subscribe by copying its address into your feed reader:
          <code><xsl:value-of select="atom:link[@rel='self']/@href"/></code></p>
        <h1><xsl:value-of select="title"/></h1>
        <p><xsl:value-of select="description"/></p>
        <xsl:for-each select="item">
          <article>
            <h2><a href="{link}"><xsl:value-of select="title"/></a></h2>
            <p class="meta"><xsl:value-of select="source"/> · <xsl:value-of select="pubDate"/></p>
          </article>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
